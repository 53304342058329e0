"""A real single-node SLURM cluster for the tests (Debian's slurmctld/slurmd/munge on localhost).

No accounting database (the status command is squeue). State, spool and logs live in a temp
folder; the configuration must be at the default path /etc/slurm/slurm.conf, because `srun`
inside a job does not see SLURM_CONF. It is written only where the machine has no SLURM
configuration of its own (otherwise the cluster is reported unavailable) and removed again by
:meth:`Cluster.stop`, which also stops every daemon started here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "munge", "slurm-client"]


class Unavailable(RuntimeError):
    """SLURM cannot be set up on this machine; the message says why."""


def _apt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, timeout=600)


def install() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "munged", "sbatch")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("SLURM is not installed and this user cannot apt-get install it")
    res = _apt("install", "-y", "--no-install-recommends", *PACKAGES)
    if res.returncode != 0:
        _apt("update")
        res = _apt("install", "-y", "--no-install-recommends", *PACKAGES)
    if res.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {res.stderr[-500:]}")


CONF = """ClusterName=gcnctest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.pids: list[int] = []
        self._munged = False
        self.conf = Path("/etc/slurm/slurm.conf")
        self._wrote_conf = False
        self.env = dict(os.environ)

    def start(self) -> None:
        install()
        if self.conf.exists():
            raise Unavailable(f"{self.conf} exists: this machine has its own SLURM configuration")
        (self.dir / "state").mkdir(parents=True)
        (self.dir / "spool").mkdir()
        host = socket.gethostname().split(".")[0]
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONF.format(host=host, d=self.dir, cpus=os.cpu_count() or 2))
        self._wrote_conf = True
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], check=True)
            self._munged = True
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([f"/usr/sbin/{daemon}"], check=True, env=self.env)
            self.pids.append(self._pid(daemon))
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=self.env
            ).stdout.strip()
            if out == "idle":
                return
            time.sleep(1)
        raise Unavailable(f"SLURM node did not become idle: sinfo says '{out}'")

    def _pid(self, daemon: str) -> int:
        path = self.dir / f"{daemon}.pid"
        for _ in range(50):
            if path.exists() and path.read_text().strip():
                return int(path.read_text())
            time.sleep(0.1)
        raise Unavailable(f"{daemon} did not start; see {self.dir}/{daemon}.log")

    def stop(self) -> None:
        subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self._munged:
            subprocess.run(["pkill", "-x", "munged"])
        if self._wrote_conf:
            self.conf.unlink(missing_ok=True)
