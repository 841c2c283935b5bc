"""The review kinds and their prompts, written for chatml_lab's review tools.

ChatML's kinds: ``quick``, ``deep``, ``security``, ``performance``, ``architecture`` and ``premerge``.

Every prompt has the same four parts ChatML's have: a strategy, what to check, how to grade
severity, and what not to flag. :func:`review_prompt` adds the common workflow (diff first,
then the surrounding code, one comment per issue, stats and a scorecard at the end) and any
instructions the user gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class ReviewKind:
    """One kind of review: a label, the scorecard's dimensions and the prompt's four parts."""

    name: str
    label: str
    dimensions: tuple[str, ...]
    strategy: str
    check: tuple[str, ...]
    severity: str
    ignore: tuple[str, ...]


KINDS: dict[str, ReviewKind] = {
    k.name: k
    for k in (
        ReviewKind(
            "quick",
            "Quick review",
            ("correctness", "tests", "readability"),
            "Skim the whole change once, then look only for what would break or mislead. File at most "
            "7 comments, errors and warnings only; stop early when the change is small and sound.",
            (
                "bugs: wrong conditions, off-by-one, unhandled None/empty input, wrong return values",
                "changed behaviour without a matching test, and tests that cannot fail",
                "code that contradicts its own docstring, name or comment",
            ),
            "error: it is wrong or will crash for a plausible input. warning: it works today but is "
            "fragile, untested or misleading. Nothing lower in a quick review.",
            (
                "style a formatter or linter would settle",
                "suggestions and praise",
                "code outside the diff",
            ),
        ),
        ReviewKind(
            "deep",
            "Deep review",
            ("correctness", "design", "tests", "readability", "maintainability"),
            "Read every changed file in full, then the callers and callees of each changed function. "
            "Follow the data: where does each input come from, and what happens at its edges?",
            (
                "correctness for empty, huge, unicode, concurrent and failing inputs",
                "error handling: what the user sees, what is left half-done, what is lost",
                "API shape: names, defaults, types, and whether a caller can misuse it",
                "tests: do they cover the failure paths, and would they fail if the code were wrong",
                "duplication of logic the codebase already has",
            ),
            "error: a bug or data loss. warning: a real risk or a gap in tests. suggestion: a "
            "clearly better way. info: context a later reader needs, sparingly.",
            (
                "personal taste in naming when the name is clear",
                "reformatting",
                "hypothetical features nobody asked for",
            ),
        ),
        ReviewKind(
            "security",
            "Security review",
            ("input handling", "secrets", "authorization", "dependencies"),
            "Trace every input that crosses a trust boundary (user, network, file, environment, "
            "subprocess) to where it is used. Assume the attacker controls it.",
            (
                "injection: shell, SQL, path traversal, template, deserialisation (pickle, yaml.load)",
                "secrets in code, logs, errors, notebooks' outputs or test fixtures",
                "authentication and authorization checks that can be skipped",
                "unsafe defaults: debug on, permissive CORS, world-writable files, disabled TLS checks",
                "new dependencies: pinned, maintained, needed",
            ),
            "error: exploitable as written. warning: exploitable under a plausible change or "
            "configuration. suggestion: defence in depth. Say how an attacker would reach it.",
            (
                "theoretical issues with no path from an input",
                "general hardening unrelated to the diff",
                "non-security style or design points",
            ),
        ),
        ReviewKind(
            "performance",
            "Performance review",
            ("algorithmic cost", "I/O", "memory", "concurrency"),
            "Find the hot paths the change touches (loops over data, request handlers, notebook "
            "cells run on full datasets) and estimate cost as data grows tenfold.",
            (
                "quadratic work, repeated work inside loops, N+1 queries or calls",
                "I/O: unbuffered reads, missing batching, blocking calls on an event loop",
                "memory: whole files or tables loaded where streaming works, unbounded caches",
                "pandas/numpy: row-wise apply or Python loops where a vectorised form exists",
            ),
            "error: it will not finish or will exhaust memory at realistic sizes. warning: a clear, "
            "measurable slowdown. suggestion: a cheaper equivalent. Give the size where it matters.",
            (
                "micro-optimisations with no measurable effect",
                "code that runs once at start-up",
                "speculation without a plausible workload",
            ),
        ),
        ReviewKind(
            "architecture",
            "Architecture review",
            ("boundaries", "coupling", "cohesion", "evolvability"),
            "Place each changed module in the system: what it depends on, what depends on it, and "
            "whether the change respects the layers and ownership the codebase already has.",
            (
                "imports that cross layers upward or reach into another module's private parts",
                "one concern spread over several modules, or one module taking a second concern",
                "new abstractions with a single use, and missing ones where code is copied",
                "public API changes and who they break",
            ),
            "error: a boundary violation that will spread. warning: coupling that makes the next "
            "change harder. suggestion: a cleaner seam. Name the modules involved.",
            ("line-level bugs (another review kind finds those)", "formatting", "naming nits"),
        ),
        ReviewKind(
            "premerge",
            "Pre-merge check",
            ("ready to merge", "tests", "docs", "risk"),
            "Decide whether this branch can merge now. Check the whole change against its stated "
            "task, then the loose ends a merge would ship.",
            (
                "debug code, print statements, commented-out code, TODO without an issue",
                "files that should not be committed (secrets, large data, notebook outputs with data)",
                "tests, docs and changelog updated for user-visible changes",
                "migrations and config changes that need a deployment step",
            ),
            "error: must be fixed before merging. warning: should be fixed or explicitly accepted. "
            "info: a note for the merge description.",
            ("design debates better had in a deep review", "style", "pre-existing problems"),
        ),
    )
}

WORKFLOW = """How to review:
1. Call get_workspace_diff with stat=true to see which files changed, then get_workspace_diff
   with file_path for each file worth reading (notebooks come as cell-level diffs).
2. Read the surrounding code with Read, Glob and Grep before judging a line.
3. File each issue with add_review_comment: file_path and line_number in the new version, a title
   under 60 characters, markdown content saying what is wrong, why it matters and the fix, and a
   severity. One issue per comment; call list_review_comments first and never repeat one.
4. Finish with get_review_comment_stats, then submit_review_scorecard with a 0-10 score for each
   of: {dimensions}, and a two-sentence summary. Then answer with a short summary for the user."""


def kind(name: str) -> ReviewKind:
    """The review kind called ``name`` (a clear error listing the kinds otherwise)."""
    found = KINDS.get(str(name).strip().lower())
    if found is None:
        raise InvalidArgumentError(f"unknown review kind {name!r}: use one of {', '.join(KINDS)}")
    return found


def review_prompt(name: str, instructions: str | None = None) -> str:
    """The full instructions of a review of kind ``name``, with the user's own appended."""
    chosen = kind(name)
    parts = [
        f"# {chosen.label}",
        f"## Review strategy\n{chosen.strategy}",
        "## Check for\n" + "\n".join(f"- {item}" for item in chosen.check),
        f"## Severity guidance\n{chosen.severity}",
        "## Do NOT flag\n" + "\n".join(f"- {item}" for item in chosen.ignore),
        "## " + WORKFLOW.format(dimensions=", ".join(chosen.dimensions)),
    ]
    if instructions and instructions.strip():
        parts.append(f"## Additional instructions\n{instructions.strip()}")
    return "\n\n".join(parts)
