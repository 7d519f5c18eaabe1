"""Logs in to the dashboard in headless Chromium and saves a screenshot of the whole page.

usage: dashboard_shot.py API_URL TOKEN OUT.png
"""

import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    api, token, out = sys.argv[1:4]
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--no-first-run"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(api + "/dashboard")
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.app svg.chart"))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(max(height + 40, 1000), 6000))
        driver.save_screenshot(out)
        print(f"saved {out} ({len(driver.find_elements(By.CSS_SELECTOR, 'article.node'))} nodes, "
              f"{len(driver.find_elements(By.CSS_SELECTOR, 'section.app'))} apps, "
              f"{len(driver.find_elements(By.CSS_SELECTOR, 'svg.chart .line'))} graph lines)")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
