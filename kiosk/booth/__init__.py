"""The `kiosk run` process: the render loop (`app`) and everything only the live booth uses.

A frame flows one way: camera (`kiosk.cameras`) -> `feed` -> detection near the last face
(`live`, in a `worker`) -> steadiness (`stability`) -> the flow's state machine (`flow`) -> scoring
(`kiosk.chain`, in a `worker`) -> drawing (`screen`, `view`, `fonts`, `texts`). Around it: the GPIO
`button` and face `light`, the face-priority `exposure`, systemd's `notify`, opt-in `captures`, and
the `failsafe` error screen.
"""
