// The test tier of every test here (docs/testing.md): `bash scripts/test.sh --tier Integration` runs it alone.
[assembly: AssemblyTrait("Tier", "Integration")]
