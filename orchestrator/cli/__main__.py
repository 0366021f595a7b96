from atlaspatch.orchestrator.cli.main import main

main()
