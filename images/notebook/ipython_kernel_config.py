# Every kernel in the hubml notebook image loads hubml's magics and widgets.
c.InteractiveShellApp.extensions = ["hubml"]  # noqa: F821 (IPython provides `c`)
