# No models: post_migrate reaches only apps with a models module, and this
# one grants the runtime role its privileges after each migrate (apps.py).
