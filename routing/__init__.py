"""Report routing data: the category catalog and the working-time calendar for deadlines."""
