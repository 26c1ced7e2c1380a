"""Detection over the network: `darkpy serve` (an HTTP service around one `Detector`) and the live
MJPEG / JSON streams of `darkpy detect --source ... --mjpeg-port P --json-port P` (AlexeyAB's
`-mjpeg_port` / `-json_port`). Needs the optional `aiohttp` (`pip install 'darkpy[serve]'`)."""
