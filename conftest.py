"""pytest set-up shared by tests/ and the doctests in bioplastic/."""

# Importing brian2 imports brian2.tests, which replaces pytest's DoctestModule with a subclass
# that fails on any package ``__init__.py`` (IndexError).  Let brian2 patch it now, once, and
# put pytest's own class back before any module is collected.
import _pytest.doctest  # noqa: E402

_pytest_doctest_module = _pytest.doctest.DoctestModule
import brian2  # noqa: E402, F401

_pytest.doctest.DoctestModule = _pytest_doctest_module
