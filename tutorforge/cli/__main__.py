"""`python -m tutorforge.cli …` = the `tutorforge` command (flows run it this way, with their own interpreter)."""

from tutorforge.cli.app import main

if __name__ == "__main__":
    main()
