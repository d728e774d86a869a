from invcheck.cli import main

main()
