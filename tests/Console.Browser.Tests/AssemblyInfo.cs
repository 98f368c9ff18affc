// The test tier of every test here (docs/testing.md): `bash scripts/test.sh --tier Browser` runs it alone.
[assembly: AssemblyTrait("Tier", "Browser")]
