from ethics.cli import main

main()
