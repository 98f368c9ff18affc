// The test tier of every test here (docs/testing.md): `bash scripts/test.sh --tier Fast` runs it alone.
[assembly: AssemblyTrait("Tier", "Fast")]
