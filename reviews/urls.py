from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("archive/", views.archive, name="archive"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("bulk/", views.bulk_answer, name="bulk"),
    path("interrupts/<int:pk>/", views.interrupt_detail, name="interrupt"),
    path("interrupts/<int:pk>/answer/", views.interrupt_answer, name="answer"),
    path("interrupts/<int:pk>/claim/", views.interrupt_claim, name="claim"),
    path("interrupts/<int:pk>/comments/", views.interrupt_comment, name="comment"),
    path("interrupts/<int:pk>/release/", views.interrupt_release, name="release"),
    path("interrupts/<int:pk>/assign/", views.interrupt_reassign, name="reassign"),
    path("r/<str:token>/", views.review_link, name="link"),
]
