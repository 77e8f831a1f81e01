from nudge_build.cli import run

run()
