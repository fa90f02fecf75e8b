from licensor.cli.main import main

main()
