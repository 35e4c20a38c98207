"""Run the eval suite against a real agent loop and grade it with the policy.

``runner`` drives each case through ``agent`` (OpenAI / Anthropic tool calling) with the
simulated tools of ``tools``; ``grader`` grades every transcript deterministically (optional
``rubric`` judgement on top); ``stats`` and ``ladder`` aggregate; ``report`` writes md/json;
``diff`` compares two runs.
"""
