from darkpy.cli import main

main()
