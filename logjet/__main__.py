from logjet.cli import main

main()
