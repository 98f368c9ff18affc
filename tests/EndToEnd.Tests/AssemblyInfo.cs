// The test tier of every test here (docs/testing.md): `bash scripts/test.sh --tier EndToEnd` runs it alone.
[assembly: AssemblyTrait("Tier", "EndToEnd")]
