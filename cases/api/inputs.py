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
        return form_data(data, request.FILES)
    return data


def form_data(data, files, *, answers_prefix: str = "attributes.") -> dict:
    """A form's fields (a QueryDict) as a serializer reads them: files as
    lists under their names, answers to questions (``<answers_prefix><code>``,
    several for a list) gathered under ``attributes``. Web forms post the same
    fields as the API's multipart bodies."""
    plain = {key: data.get(key) for key in data if not key.startswith("attributes.")}
    for key in files:
        plain[key] = files.getlist(key)
    answers = {
        key.removeprefix(answers_prefix): values if len(values) > 1 else values[0]
        for key, values in data.lists()
        if key.startswith(answers_prefix) and key not in files
    }
    if answers:
        plain["attributes"] = answers
    return plain
