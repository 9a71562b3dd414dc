import pytest


@pytest.fixture(autouse=True)
def external_executor(settings):
    """Runs stay queued unless a test executes them (``running.execute_run``)."""
    settings.FLOWSITE_EXECUTOR = "external"


@pytest.fixture
def user_factory(user_factory):
    """Users of these tests are reviewers: they hold ``reviews.answer_interrupt`` unless made
    with ``reviewer=False``."""
    from django.contrib.auth.models import Permission

    def make(username=None, *, reviewer=True, **fields):
        user = user_factory(username, **fields)
        if reviewer:
            user.user_permissions.add(
                Permission.objects.get(
                    content_type__app_label="reviews", codename="answer_interrupt"
                )
            )
        return user

    return make


@pytest.fixture
def permission_factory():
    """``permission_factory("codename")``: a new permission of the reviews app; returns its
    name as ``has_perm`` takes it (``"reviews.codename"``) and the ``Permission``."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from reviews.models import Decision

    def make(codename):
        permission = Permission.objects.create(
            codename=codename,
            name=f"Can {codename.replace('_', ' ')}",
            content_type=ContentType.objects.get_for_model(Decision),
        )
        return f"reviews.{codename}", permission

    return make


@pytest.fixture
def register_workflow(monkeypatch):
    """``register_workflow(name, **kwargs)``: register the essay entrypoint under another name
    (with ``review_permission=`` etc.) for this test only."""
    from flowsite.workflows import essay_review
    from reviews.forms import ApproveRejectForm
    from workflows import registry

    monkeypatch.setattr(registry, "_registry", dict(registry._registry))

    def register(name, **kwargs):
        kwargs.setdefault("title", name.replace("-", " ").capitalize())
        kwargs.setdefault("resume_form", ApproveRejectForm)
        return registry.register(name, essay_review, **kwargs)

    return register
