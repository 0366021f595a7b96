"""Users' own encoders: `--feature-plugin` files (this project's and AtlasPatch's API)."""
