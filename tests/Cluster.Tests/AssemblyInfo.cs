// The test tier of every test here (docs/testing.md): `bash scripts/test.sh --tier Faults` runs it alone.
[assembly: AssemblyTrait("Tier", "Faults")]
