"""What students run: `make lab` opens JupyterLab on their own copy of the release."""
