"""The command layer: shell lines → the simple commands they would run, tool-parsed.

* :mod:`.lexer` splits shell text (quotes, operators, substitutions, heredocs);
* :mod:`.shell` unwraps wrappers and nesting (``parse_line``, ``parse_command``);
* :mod:`.tools` holds one parser per tool family (a ``tool → parser`` table);
* :mod:`.sql` reads statement kinds; :mod:`.verbs` maps commands to the action vocabulary.
"""
