"""``python -m siji``: the ``siji`` command (:func:`siji.launch.main`)."""

from siji.launch import main

if __name__ == "__main__":
    main()
