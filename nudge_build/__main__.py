from nudge_build.cli import main

main()
