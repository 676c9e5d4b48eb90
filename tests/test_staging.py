"""Staged asset folders live in the app's output folder and are rebuilt or verified before reuse."""

from __future__ import annotations

import os

import pytest

from refarch.constructs.staging import private_root, stage


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "src"
    (folder / "sql").mkdir(parents=True)
    (folder / "handler.py").write_text("def handler(event, context): ...\n")
    (folder / "sql" / "01.sql").write_text("select 1;\n")
    return [(path.relative_to(folder), path) for path in (folder / "handler.py", folder / "sql" / "01.sql")]


def contents(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_content_is_staged_once_in_a_private_folder(tmp_path, sources):
    root = tmp_path / "staging"
    first = stage("fn", sources, root=root)
    assert stage("fn", sources, root=root) == first
    assert contents(first) == {"handler.py": "def handler(event, context): ...\n", "sql/01.sql": "select 1;\n"}
    assert oct(root.stat().st_mode & 0o777) == "0o700"


def test_a_tampered_staged_file_is_rebuilt_from_the_sources(tmp_path, sources):
    root = tmp_path / "staging"
    staged = stage("fn", sources, root=root)
    (staged / "handler.py").write_text("import os; os.system('exfiltrate')\n")
    assert contents(stage("fn", sources, root=root))["handler.py"] == "def handler(event, context): ...\n"


def test_a_file_planted_in_a_staged_folder_is_removed_by_the_rebuild(tmp_path, sources):
    root = tmp_path / "staging"
    staged = stage("fn", sources, root=root)
    (staged / "sitecustomize.py").write_text("print('planted')\n")
    assert "sitecustomize.py" not in contents(stage("fn", sources, root=root))


def test_a_folder_others_may_write_is_refused(tmp_path, sources):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(RuntimeError, match="not a private folder of this user"):
        stage("fn", sources, root=shared)


def test_a_symlinked_root_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(RuntimeError, match="not a private folder"):
        private_root(tmp_path / "link")


@pytest.mark.synth
def test_a_construct_stages_in_its_apps_output_folder_not_a_shared_temporary_one(tmp_path, sources):
    from aws_cdk import App, Stack

    from refarch.constructs.python_function import stage_asset

    function = sources[0][1].parent
    app = App(outdir=str(tmp_path / "cdk.out"))
    staged = stage_asset(Stack(app, "Stack"), function, {"queries": function / "sql"})
    assert staged.parent == tmp_path / "cdk.out" / "staging"
    assert oct(staged.parent.stat().st_mode & 0o777) == "0o700"
    assert contents(staged) == {"handler.py": "def handler(event, context): ...\n", "sql/01.sql": "select 1;\n",
                                "queries/01.sql": "select 1;\n"}
