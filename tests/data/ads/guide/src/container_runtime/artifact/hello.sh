#!/bin/sh
# Extra artifact of container_runtime-1.yaml (scriptPathURI: a directory, which ADS zips).
echo "$GREETINGS"
