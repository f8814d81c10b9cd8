"""The booth's web service (issue 13, first part): the seed's upload page and a JSON API for scripts,
served by `kiosk web` from the same photo intake and chain as `kiosk score`. Nothing is stored."""
