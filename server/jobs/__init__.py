"""Background jobs: an owned scheduler, Mongo leases so one process runs each job per
interval, and the maintenance jobs themselves."""
