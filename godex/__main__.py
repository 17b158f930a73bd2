from godex.cli import main

main()
