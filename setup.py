"""The one thing pyproject.toml cannot say: a wheel carries the repository's campaigns/ (policy.yaml among
them) and templates/ as righttime_dev/scaffold/, which `righttime init` copies into a new project. They are
copied at build time, never kept twice in the repository; an editable install reads the checkout's own."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCAFFOLD = ("campaigns", "templates")


class BuildWithScaffold(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for folder in SCAFFOLD:
            for source in sorted(Path(folder).rglob("*")):
                if source.is_file():
                    target = Path(self.build_lib, "righttime_dev", "scaffold", source)
                    self.mkpath(str(target.parent))
                    self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildWithScaffold})
