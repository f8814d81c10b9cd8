"""Operator tools that drive the booth's own code: `kiosk check` (preflight), `kiosk bench`,
`kiosk soak` and `kiosk screenshot` (`shots`). They use the booth only through `App`'s public API."""
