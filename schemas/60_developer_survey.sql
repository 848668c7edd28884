-- The developer survey: raw_data/developer_survey/*.csv, Google Forms / Microsoft Forms exports
-- (a `Timestamp` column, optional `Team` and `Email Address`, then one column per question),
-- loaded by mappers/developer_survey.yaml. A response is identified by its submission time and
-- its line in the export (submitted_at, response_row); the email address is never stored.
-- respondent: the pseudonym of the export's `Email Address` (HMAC-SHA256, as for every source's
-- emails), NULL when the form does not collect addresses.
CREATE TABLE survey_responses (
    submitted_at TEXT NOT NULL,
    response_row BIGINT NOT NULL,
    respondent TEXT,
    team TEXT,
    source_file TEXT,
    PRIMARY KEY (submitted_at, response_row)
);

-- One row per answered question of a response. score: the answer as a whole number from 1 to 5
-- when it is one (a linear-scale question), else NULL (free text).
CREATE TABLE survey_answers (
    submitted_at TEXT NOT NULL,
    response_row BIGINT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT,
    score BIGINT,
    PRIMARY KEY (submitted_at, response_row, question)
);
