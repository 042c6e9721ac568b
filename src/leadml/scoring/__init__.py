"""The use case every entry point calls: lead -> features -> predictor -> explanation -> stored prediction."""
