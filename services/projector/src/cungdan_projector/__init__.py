"""cungdan projector: folds the activity stream into SQL totals and serves them."""
