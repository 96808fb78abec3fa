#!/usr/bin/env bash
# /autograder/setup.sh: runs once, when Gradescope builds the autograder image.
set -euo pipefail
apt-get update && apt-get install -y build-essential curl python3
# wsconform, built from a checkout of its repository copied into the
# autograder image next to this script, installed for root.
curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
/root/.cargo/bin/cargo install --locked --path /autograder/source/wsconform/crates/cli --root /usr/local
