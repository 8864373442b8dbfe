# A static seatd image, FROM scratch: nothing but the binary.
#
# The binary is built by the local Go toolchain first (this engine pulls no
# images, and a scratch image has no compiler):
#
#   CGO_ENABLED=0 go build -trimpath -o build/seatd ./cmd/seatd
#   docker build -t seatd:dev .
#
# scripts/compose-failover.sh does both. The node's flags are the
# container's command (see docker-compose.yml); its data goes to /data.
FROM scratch
COPY build/seatd /seatd
EXPOSE 7000 8000 9000
VOLUME /data
ENTRYPOINT ["/seatd"]
