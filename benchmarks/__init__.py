"""The benchmarks: ``python -m benchmarks`` (see ``__main__``). Figures are ratios against baselines
measured in the same run, never timed assertions in tests."""
