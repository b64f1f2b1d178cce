#!/bin/bash
# From the CircleCI Enterprise docs' launch configuration: the variables prefix the piped bash.
curl https://s3.amazonaws.com/circleci-enterprise/init-builder-0.2.sh | \
    SERVICES_PRIVATE_IP=10.0.1.10 \
    bash
