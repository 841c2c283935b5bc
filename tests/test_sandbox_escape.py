"""Escape attempts from the sandboxed Bash tool (DESIGN §5): each is refused and changes nothing.

One session's agent (worktree ``wt``, branch ``chatml/me``) tries to move another session's branch,
an archived session's branch, the default branch, a tag or a snapshot ref; to remove or rewrite
another worktree; to destroy objects; to switch off the hook or redirect git; to push to the
default branch of a local bare ``origin``. The protected state (every other ref, every reflog,
the other worktree and its admin dir, the main checkout, the repository's config and hooks,
``origin``'s refs, every object reachable from a protected ref) is compared before and after.
After each attempt a commit on the session's own branch still works.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from chatml_lab.agents.gitguard import HOOK
from chatml_lab.agents.sandbox import sandbox_available, sandbox_problem
from chatml_lab.agents.tools import ToolRunner

from .conftest import commit_file, git

pytestmark = pytest.mark.skipif(not sandbox_available(), reason=f"no sandbox here: {sandbox_problem()}")

OWN = "refs/heads/chatml/me"
#: How a refusal shows: the hook's message, or the kernel's.
#: (``git stash`` hides the read-only error behind its own message.)
REFUSED = ("chatml sandbox: refused", "read-only file system", "device or resource busy", "permission denied",
           "operation not permitted", "cannot lock ref", "unable to create", "cannot save the current status")  # fmt: skip


@pytest.fixture
def layout(repo: Path, origin: Path, tmp_path: Path) -> dict[str, Path]:
    """Two sessions, an archived session's branch, a tag and a snapshot ref, all refs packed."""
    own, other = tmp_path / "wt", tmp_path / "wt-other"
    git(repo, "worktree", "add", "-q", "-b", "chatml/me", str(own))
    git(repo, "worktree", "add", "-q", "-b", "chatml/other", str(other))
    commit_file(other, "other.txt", "the other session's work\n")
    git(repo, "branch", "chatml/idle", "main~1")
    git(repo, "tag", "v1", "main")
    # A snapshot whose blob is reachable from nothing else: destroying objects would lose it.
    blob = _git_input(repo, "precious snapshot content\n", "hash-object", "-w", "--stdin")
    tree = _git_input(repo, f"100644 blob {blob}\tsnap.txt\n", "mktree")
    snap = git(repo, "commit-tree", tree, "-m", "snapshot").strip()
    git(repo, "update-ref", "refs/chatml/snapshots/abc/deleted", snap)
    git(repo, "pack-refs", "--all")  # the hardest case: every ref packed, nothing loose yet
    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    return {"repo": repo, "origin": origin, "own": own, "other": other, "common": common}


def _git_input(cwd: Path, data: str, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _tree_digest(root: Path, skip: tuple[str, ...] = ()) -> str:
    digest = hashlib.sha256()
    if not root.exists():
        return "missing"
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        files += [Path(folder, name) for name in names]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
    return digest.hexdigest()


def protected_state(layout: dict[str, Path]) -> dict[str, str]:
    """Everything one session's agent must not change, as comparable strings."""
    repo, common = layout["repo"], layout["common"]
    refs = [
        line
        for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
        if not line.startswith(f"{OWN} ")
    ]
    names = [line.split()[0] for line in refs]
    objects = git(repo, "rev-list", "--objects", *names).splitlines()
    missing = subprocess.run(
        ["git", "cat-file", "--batch-check"],
        cwd=repo,
        input="\n".join(o.split()[0] for o in objects) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    logs = {
        str(p.relative_to(common)): p.read_text()
        for p in sorted((common / "logs").rglob("*"))
        if p.is_file() and p != common / "logs" / OWN
    }
    return {
        "refs": "\n".join(refs),
        "objects": str(len(objects)) + ("" if "missing" not in missing else " MISSING"),
        "logs": repr(logs),
        "other worktree": _tree_digest(layout["other"]),
        "other admin": _tree_digest(common / "worktrees" / "wt-other"),
        "main checkout": _tree_digest(repo, skip=(".git",)),
        "config": (common / "config").read_text(),
        "hooks": _tree_digest(common / "hooks"),
        "origin": git(layout["origin"], "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": "\n\n".join(
            block
            for block in git(repo, "worktree", "list", "--porcelain").split("\n\n")
            if not block.startswith(f"worktree {layout['own']}\n")
        ),
    }


#: (name, command): $C is the common git dir, $O the other session's worktree, $R the main checkout,
#: $H this session's hook dir, $A this worktree's admin dir.
ATTEMPTS = [
    ("update-ref another session's branch", "git update-ref refs/heads/chatml/other HEAD~1"),
    ("update-ref with the hook switched off", "git -c core.hooksPath=/dev/null update-ref refs/heads/chatml/other HEAD~1"),
    ("update-ref the default branch without GIT_CONFIG_*", "env -u GIT_CONFIG_COUNT git update-ref refs/heads/main HEAD~1"),
    ("delete a branch", "git update-ref -d refs/heads/chatml/other; git branch -D chatml/idle"),
    ("branch -f an archived session's branch", "git branch -f chatml/idle HEAD"),
    ("checkout another branch and commit", "git checkout -q chatml/idle && echo x > x && git add x && git commit -qm evil"),
    ("checkout the default branch and commit",
     "git checkout -q --ignore-other-worktrees main && echo x > x && git add x && git commit -qm evil"),
    ("write another branch's loose ref file", "git rev-parse HEAD~1 > $C/refs/heads/chatml/other"),
    ("shadow a packed ref with a new loose file", "git rev-parse HEAD > $C/refs/heads/chatml/idle; git rev-parse HEAD > $C/refs/heads/main"),
    ("remove or rename ref files", "rm -f $C/refs/heads/chatml/other; mv $C/refs/heads/chatml/idle /tmp/x; rm -rf $C/refs/tags"),
    ("rewrite packed-refs", "sed -i 's/refs.heads.main$/refs\\/heads\\/gone/' $C/packed-refs; cp $C/packed-refs /tmp/p; "
     "echo \"$(git rev-parse HEAD~1) refs/heads/main\" >> /tmp/p; mv /tmp/p $C/packed-refs"),
    ("worktree remove another session", "git worktree remove --force $O"),
    ("delete another worktree and its admin dir", "rm -rf $C/worktrees/wt-other $O/other.txt $O/.git"),
    ("worktree prune after moving a worktree away", "mv $O /tmp/moved; git worktree prune"),
    ("repoint another worktree's HEAD", "echo 'ref: refs/heads/main' > $C/worktrees/wt-other/HEAD"),
    ("reflog expire --all", "git reflog expire --expire=now --all"),
    ("gc --prune=now", "git reflog expire --expire=now --all; git gc --prune=now; git prune --expire=now"),
    ("delete objects and packs", "rm -rf $C/objects/pack/*; find $C/objects -type f -delete; rm -rf $C/objects/??"),
    ("change core.hooksPath in the repository config",
     "git config core.hooksPath /tmp/nohooks; git config --global core.hooksPath /tmp/nohooks; "
     "echo '[core] hooksPath = /tmp/nohooks' >> $C/config; git update-ref refs/heads/chatml/other HEAD~1"),
    ("plant core.fsmonitor for chatml's own git", "git config core.fsmonitor 'touch /tmp/pwned'; "
     "printf '[core]\\n\\tfsmonitor = touch pwned\\n' > $A/config.worktree"),
    ("delete or replace the ref hook", f"rm -f $H/{HOOK}; echo 'exit 0' > $H/{HOOK}; "
     "git update-ref refs/heads/chatml/other HEAD~1"),
    ("plant a repository hook", "printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > $C/hooks/post-checkout; chmod +x $C/hooks/post-checkout"),
    ("redirect the worktree's .git file", "echo 'gitdir: /tmp/evil' > .git; rm -f .git"),
    ("redirect the admin dir's commondir", "echo /tmp/evil > $A/commondir; rm -f $A/gitdir"),
    ("push to the default branch of a local bare origin", "git push -f origin HEAD~1:main; git push origin :main"),
    ("delete or move a tag", "git tag -d v1; git tag -f v1 HEAD~1"),
    ("delete or move a snapshot ref", "git update-ref -d refs/chatml/snapshots/abc/deleted; "
     "git update-ref refs/chatml/snapshots/abc/deleted HEAD"),
    ("move a remote-tracking ref", "git update-ref refs/remotes/origin/main HEAD~1; git fetch origin"),
    ("git stash (shared by every worktree)", "echo change >> README.md && git stash"),
    ("edit another worktree's and the main checkout's files", "echo pwned > $O/other.txt; echo pwned > $R/README.md"),
    ("remount read-write, new user namespace", "mount -o remount,rw,bind /; mount --bind /tmp $C/refs; unshare -Urm true"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "command"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
def test_escape_attempt_is_refused(layout: dict[str, Path], name: str, command: str) -> None:
    runner = ToolRunner(layout["own"], layout["common"], dict(os.environ), bash_timeout=60)
    assert runner.is_sandboxed()
    admin = layout["common"] / "worktrees" / "wt"
    hook = runner.sandbox.hooks_dir / HOOK
    runner.sandbox.prepare()
    hook_before = hook.read_text()
    before = protected_state(layout)
    env = f"C={layout['common']}; O={layout['other']}; R={layout['repo']}; H={runner.sandbox.hooks_dir}; A={admin}; "
    outcome = runner.run("Bash", {"command": env + command})
    after = protected_state(layout)
    changed = [key for key in before if before[key] != after[key]]
    assert not changed, f"{name} changed {changed}:\n{outcome.output}"
    assert hook.read_text() == hook_before
    assert any(marker in outcome.output.lower() for marker in REFUSED), (
        f"{name}: no refusal seen:\n{outcome.output}"
    )
    assert not Path("/tmp/pwned").exists()
    # The session itself still works: back on its own branch, a commit lands there.
    tip = git(layout["repo"], "rev-parse", OWN).strip()
    done = runner.run(
        "Bash",
        {
            "command": "git checkout -q -f chatml/me && echo mine > mine.txt && git add mine.txt && git commit -qm mine"
        },
    )
    assert done.ok, done.output
    assert git(layout["repo"], "rev-parse", f"{OWN}~1").strip() == tip
    assert git(layout["repo"], "log", "-1", "--format=%s", OWN).strip() == "mine"


def test_the_hook_explains_a_refusal_and_allows_the_own_branch(layout: dict[str, Path]) -> None:
    runner = ToolRunner(layout["own"], layout["common"], dict(os.environ))
    refused = runner.run("Bash", {"command": "git update-ref refs/heads/chatml/other HEAD~1"})
    assert not refused.ok
    assert "chatml sandbox: refused to update refs/heads/chatml/other" in refused.output
    assert "may only move refs/heads/chatml/me" in refused.output
    moved = runner.run(
        "Bash", {"command": "git commit -q --allow-empty -m one && git reset -q --hard HEAD~1"}
    )
    assert moved.ok, moved.output
    deleted = runner.run("Bash", {"command": "git checkout -q --detach && git branch -D chatml/me"})
    assert not deleted.ok, deleted.output  # packed too: the read-only packed-refs refuses first
    assert git(layout["repo"], "rev-parse", "--verify", "-q", OWN).strip()


def test_the_repositorys_own_hooks_still_run(layout: dict[str, Path]) -> None:
    hook = layout["common"] / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'pre-commit hook ran'\nexit 1\n")
    hook.chmod(0o755)
    runner = ToolRunner(layout["own"], layout["common"], dict(os.environ))
    outcome = runner.run("Bash", {"command": "git commit -q --allow-empty -m blocked"})
    assert not outcome.ok and "pre-commit hook ran" in outcome.output
    hook.unlink()
    assert runner.run("Bash", {"command": "git commit -q --allow-empty -m allowed"}).ok
