"""Reading a request's input the same way for JSON and multipart bodies."""

from __future__ import annotations


def valid_input(serializer_class, request) -> dict:
    """The request's input checked by ``serializer_class`` (400 when it is not)."""
    serializer = serializer_class(data=request_data(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def request_data(request):
    """JSON as given; for multipart, lists of files under their field names."""
    data = request.data
    if hasattr(data, "getlist"):
        plain = {key: data.get(key) for key in data if not key.startswith("attributes.")}
        for key in request.FILES:
            plain[key] = request.FILES.getlist(key)
        # Answers to questions arrive as attributes.<code> (several for a list).
        answers = {
            key.removeprefix("attributes."): values if len(values) > 1 else values[0]
            for key, values in data.lists()
            if key.startswith("attributes.") and key not in request.FILES
        }
        if answers:
            plain["attributes"] = answers
        return plain
    return data
