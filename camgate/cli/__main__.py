from camgate.cli.main import main

main()
