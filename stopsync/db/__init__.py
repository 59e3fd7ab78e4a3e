"""Database helpers; :mod:`stopsync.db.dialect` owns every difference between backends."""
