"""The project's delay server (build/delay-server) as a child process, for
the Python scripts: its READY line gives the base URL and the CA file;
stop() sends SIGTERM and waits, as tvl_delay_server_stop() does in C."""

import select
import signal
import subprocess

READY_TIMEOUT_S = 10


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def stop_on_sigterm():
    """Makes SIGTERM end the calling script as Ctrl-C does: a
    KeyboardInterrupt, so that its finally blocks stop the servers it
    started and subprocess.run kills the program it was waiting for."""
    signal.signal(signal.SIGTERM, _interrupted)


class DelayServer:
    def __init__(self, program, plain_http, scale, spin_us=0):
        cmd = [program, "--port", "0", "--scale", f"{scale:g}"]
        if plain_http:
            cmd.append("--plain-http")
        if spin_us:
            # Precise delays for the six-request demo (see src/programs/
            # bench.c); never under load, where polling would take a core
            # from the client.
            cmd += ["--spin-us", str(spin_us)]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            raise RuntimeError(f"cannot start {program}: {e.strerror}")
        # A server that never gets to its READY line must not hang the
        # caller: at most READY_TIMEOUT_S. Interrupted meanwhile (Ctrl-C,
        # or SIGTERM turned into KeyboardInterrupt), it is stopped here,
        # since the caller has no object to stop yet.
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT_S)
            line = self.proc.stdout.readline().split() if ready else []
        except BaseException:
            self.stop()
            raise
        fields = dict(f.split("=", 1) for f in line[1:] if "=" in f)
        if not line or line[0] != "READY" or "url" not in fields:
            self.stop()
            raise RuntimeError(f"{program} did not print its READY line "
                               f"(within {READY_TIMEOUT_S} s)")
        self.url = fields["url"]
        self.ca = None if fields.get("ca", "-") == "-" else fields["ca"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
