#!/bin/bash

set -exu

BUILDER_IMAGE="circleci/build-image:ubuntu-14.04-XXL-upstart-1189-5614f37"

export http_proxy=""
export https_proxy=""
export no_proxy=""

apt-get update && apt-get -y upgrade
apt-get install -y docker-ce
service docker restart
while ! docker info; do echo "Waiting for docker..."; sleep 1; done
docker pull $BUILDER_IMAGE
docker network create -d bridge -o "com.docker.network.bridge.name"="circle0" circle-bridge

# Keep build containers off the metadata API and off the Services box's private ports
iptables -I FORWARD -d 169.254.169.254 -p tcp -i docker0 -j DROP
iptables -I FORWARD -d 10.0.1.10 -p tcp -i docker0 -m multiport ! --dports 80,443 -j DROP

docker run -d -p 443:443 -v /var/run/docker.sock:/var/run/docker.sock \
      -e CIRCLE_CONTAINER_IMAGE_URI="docker://$BUILDER_IMAGE" \
      -e CIRCLE_SECRET_PASSPHRASE='tf-old-passphrase' \
      -e SERVICES_PRIVATE_IP='10.0.1.10'  \
      --net circle-bridge \
      circleci/builder-base:1.1
