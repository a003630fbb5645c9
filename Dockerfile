# One image for every JobLand process: the API (`jobland serve`) and the workers (`jobland worker`).
FROM python:3.12-slim

# WeasyPrint renders the CV and letter PDFs with Pango; HarfBuzz's subsetter writes each PDF's fonts 4 to 10
# times faster than the fontTools fallback; Liberation, Carlito and DejaVu are the fonts the CV styles ask for.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
       libharfbuzz-subset0 fonts-dejavu-core fonts-liberation fonts-crosextra-carlito \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN pip install --no-cache-dir ".[workers]"

# The data folder (uploaded CVs, package files) is shared by the API and every worker: one volume.
RUN useradd --create-home --uid 1000 jobland && mkdir /data && chown jobland /data
USER jobland
ENV JOBLAND_HOME=/data
WORKDIR /data
EXPOSE 8000
CMD ["jobland", "serve", "--host", "0.0.0.0", "--port", "8000"]
