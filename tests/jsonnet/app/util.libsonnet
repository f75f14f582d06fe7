{ suffix: '-app' }
