from django.urls import path

from . import views

app_name = "workflows"

urlpatterns = [
    path("workflows/", views.workflow_list, name="list"),
    path("workflows/<slug:name>/start/", views.workflow_start, name="start"),
    path("threads/<int:pk>/", views.thread_detail, name="thread"),
    path("threads/<int:pk>/retry/", views.thread_retry, name="retry"),
    path("threads/<int:pk>/history/", views.thread_history, name="history"),
    path("threads/<int:pk>/values/<str:key>/", views.thread_value, name="value"),
    path("threads/<int:pk>/replay/", views.thread_replay, name="replay"),
    path("threads/<int:pk>/fork/", views.thread_fork, name="fork"),
]
