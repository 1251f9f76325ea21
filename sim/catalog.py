"""Static facts of the synthetic world: goods (HS tariff lines), countries, routes, offices, scanners.

Everything here is constant; the random parts of the world (per-origin prices, traders)
are drawn in :mod:`zeikan.sim.actors` from the run's seed. Goods are columnar numpy
arrays indexed by a good index ``g`` (see :data:`GOODS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATERIALS: tuple[str, ...] = (
    "organic", "metal", "electronics", "textile", "liquid", "tobacco", "mineral", "plastic",
)
"""Material hints the X-ray renderer understands (one per good)."""

UNITS: tuple[str, ...] = ("PCE", "KGM", "PR", "LTR", "MTK", "SET", "NAR")
"""Quantity units (UN/ECE Rec. 20 codes) used by the catalogue."""

# hs | description | unit | duty | unit price USD | unit kg | material | look-alike group | anti-dumping on CN
# Duty rates are the fictional tariff of the importing country "ZK"; look-alike groups
# collect goods an importer could pretend to ship instead (same group, lower duty).
_GOODS_TABLE = """
020130|Bovine meat, fresh or chilled, boneless|KGM|0.38|9.5|1.0|organic|beef|
020230|Bovine meat, frozen, boneless|KGM|0.38|6.8|1.0|organic|beef|
0206290010|Edible bovine offal, frozen, tongues|KGM|0.12|4.1|1.0|organic|beef|
160250|Prepared or preserved bovine meat|KGM|0.20|7.9|1.0|organic|beef|
020714|Cuts and offal of fowls, frozen|KGM|0.12|2.4|1.0|organic|poultry|
160232|Prepared meat of fowls|KGM|0.06|3.6|1.0|organic|poultry|
030617|Shrimps and prawns, frozen|KGM|0.12|8.2|1.0|organic|shrimp|
160521|Shrimps and prawns, prepared, not in airtight containers|KGM|0.05|9.0|1.0|organic|shrimp|
030389|Other fish, frozen|KGM|0.05|2.6|1.0|organic|fish|
030499|Fish fillets and meat, frozen, other|KGM|0.05|4.4|1.0|organic|fish|
030743|Cuttle fish and squid, frozen|KGM|0.07|3.9|1.0|organic|fish|
040690|Cheese, other|KGM|0.30|6.5|1.0|organic|cheese|
040620|Cheese, grated or powdered|KGM|0.26|5.9|1.0|organic|cheese|
040510|Butter|KGM|0.29|5.2|1.0|organic|cheese|
040900|Natural honey|KGM|0.25|3.4|1.0|organic|honey|
170290|Sugars and syrups, other, incl. invert sugar|KGM|0.08|0.9|1.0|organic|honey|
070320|Garlic, fresh or chilled|KGM|0.40|1.3|1.0|organic|garlic|X
071290|Dried vegetables, other|KGM|0.09|2.2|1.0|organic|garlic|
080810|Apples, fresh|KGM|0.17|1.1|1.0|organic|fruit|
080510|Oranges, fresh|KGM|0.16|0.9|1.0|organic|fruit|
081190|Fruit, frozen, other|KGM|0.12|1.6|1.0|organic|fruit|
200899|Fruit, otherwise prepared or preserved|KGM|0.10|2.1|1.0|organic|fruit|
090111|Coffee, not roasted, not decaffeinated|KGM|0.00|3.8|1.0|organic|coffee|
090121|Coffee, roasted, not decaffeinated|KGM|0.12|9.1|1.0|organic|coffee|
210111|Extracts, essences and concentrates of coffee|KGM|0.15|14.0|1.0|organic|coffee|
090230|Black tea, fermented, in packings <= 3 kg|KGM|0.10|6.2|1.0|organic|tea|
090240|Black tea, other|KGM|0.03|3.1|1.0|organic|tea|
100630|Rice, semi-milled or wholly milled|KGM|0.50|0.6|1.0|organic|rice|
100640|Broken rice|KGM|0.10|0.4|1.0|organic|rice|
110100|Wheat or meslin flour|KGM|0.15|0.5|1.0|organic|rice|
170199|Cane or beet sugar, refined, other|KGM|0.40|0.6|1.0|organic|sugar|
170490|Sugar confectionery, not containing cocoa|KGM|0.20|3.2|1.0|organic|sugar|
180632|Chocolate in blocks or bars, not filled|KGM|0.20|7.5|1.0|organic|sugar|
190531|Sweet biscuits|KGM|0.12|3.9|1.0|organic|sugar|
150910|Olive oil, virgin|LTR|0.08|5.6|0.92|liquid|oil|
151190|Palm oil, refined|KGM|0.04|1.1|1.0|liquid|oil|
151211|Sunflower-seed oil, crude|KGM|0.05|1.2|1.0|liquid|oil|
210690|Food preparations, n.e.s. (food supplements)|KGM|0.15|18.0|1.0|organic|pharma|
300490|Medicaments, in measured doses, other|KGM|0.00|45.0|1.0|organic|pharma|
300450|Medicaments containing vitamins|KGM|0.00|30.0|1.0|organic|pharma|
220421|Wine of fresh grapes, in containers <= 2 l|LTR|0.15|4.8|1.3|liquid|drinks|
220830|Whiskies|LTR|0.25|14.0|1.4|liquid|drinks|
220860|Vodka|LTR|0.25|6.0|1.4|liquid|drinks|
220710|Undenatured ethyl alcohol >= 80 % vol|LTR|0.20|1.1|1.0|liquid|drinks|
220299|Non-alcoholic beverages, other|LTR|0.08|1.0|1.1|liquid|drinks|
220300|Beer made from malt|LTR|0.10|1.2|1.2|liquid|drinks|
240220|Cigarettes containing tobacco|PCE|0.90|0.05|0.0011|tobacco|tobacco|
240210|Cigars and cigarillos containing tobacco|PCE|0.60|0.9|0.008|tobacco|tobacco|
240319|Smoking tobacco, other|KGM|0.45|22.0|1.0|tobacco|tobacco|
240120|Tobacco, partly or wholly stemmed|KGM|0.10|4.5|1.0|tobacco|tobacco|
240412|Products containing nicotine for inhalation, without combustion|PCE|0.40|2.2|0.03|tobacco|vape|
854320|Signal generators|PCE|0.03|35.0|0.4|electronics|vape|
8543700090|Electrical machines with individual functions, other|PCE|0.02|12.0|0.15|electronics|vape|
330300|Perfumes and toilet waters|PCE|0.20|18.0|0.35|liquid|cosmetics|
330499|Beauty or make-up preparations, other|PCE|0.10|6.5|0.2|liquid|cosmetics|
330510|Shampoos|PCE|0.06|2.1|0.45|liquid|cosmetics|
340111|Soap for toilet use, in bars|KGM|0.05|2.4|1.0|organic|cosmetics|
390110|Polyethylene, specific gravity < 0.94, primary forms|KGM|0.06|1.3|1.0|plastic|plastics|
390210|Polypropylene, primary forms|KGM|0.06|1.2|1.0|plastic|plastics|
392310|Boxes, cases, crates of plastics|KGM|0.08|2.9|1.0|plastic|plastics|
392690|Other articles of plastics|KGM|0.05|4.2|1.0|plastic|plastics|
401110|New pneumatic tyres, of rubber, for motor cars|PCE|0.10|42.0|9.0|plastic|tyres|X
401120|New pneumatic tyres, of rubber, for buses or lorries|PCE|0.10|160.0|55.0|plastic|tyres|X
401220|Used pneumatic tyres|PCE|0.03|9.0|8.0|plastic|tyres|
420221|Handbags, outer surface of leather|PCE|0.20|65.0|0.8|textile|bags|
420222|Handbags, outer surface of plastic sheeting or textile|PCE|0.10|9.0|0.5|textile|bags|
420292|Travel bags, outer surface of plastic or textile|PCE|0.08|11.0|1.1|textile|bags|
440710|Coniferous wood, sawn, thickness > 6 mm|KGM|0.00|0.35|1.0|organic|wood|
441114|Medium density fibreboard, thickness > 9 mm|KGM|0.07|0.45|1.0|organic|wood|
441873|Assembled flooring panels of bamboo|MTK|0.09|14.0|9.0|organic|wood|
480256|Uncoated paper, 40-150 g/m2, sheets|KGM|0.03|1.0|1.0|organic|paper|
481910|Cartons, boxes and cases, of corrugated paper|KGM|0.04|1.4|1.0|organic|paper|
490199|Printed books, brochures and leaflets|KGM|0.00|6.0|1.0|organic|paper|
520512|Single cotton yarn, uncombed, 232-714 dtex|KGM|0.05|3.1|1.0|textile|yarn|
540233|Textured yarn of polyesters|KGM|0.06|1.9|1.0|textile|yarn|
600622|Dyed knitted fabrics of cotton|KGM|0.08|7.5|1.0|textile|fabric|
600632|Dyed knitted fabrics of synthetic fibres|KGM|0.08|5.8|1.0|textile|fabric|
520842|Woven fabrics of cotton, yarn-dyed, plain weave|MTK|0.08|2.3|0.18|textile|fabric|
610910|T-shirts, singlets and vests, knitted, of cotton|PCE|0.16|3.2|0.18|textile|tshirts|
610990|T-shirts, singlets and vests, knitted, of other textiles|PCE|0.12|2.8|0.16|textile|tshirts|
6109100010|T-shirts, knitted, of cotton, men's or boys'|PCE|0.16|3.4|0.2|textile|tshirts|
611020|Jerseys, pullovers, cardigans, knitted, of cotton|PCE|0.16|7.8|0.45|textile|knitwear|
611030|Jerseys, pullovers, cardigans, knitted, of man-made fibres|PCE|0.16|6.1|0.4|textile|knitwear|
611011|Jerseys and pullovers, knitted, of wool|PCE|0.12|15.5|0.5|textile|knitwear|
611596|Socks and hosiery, knitted, of synthetic fibres|PR|0.13|0.7|0.05|textile|knitwear|
620342|Men's trousers and shorts, of cotton|PCE|0.16|8.4|0.6|textile|trousers|
620343|Men's trousers and shorts, of synthetic fibres|PCE|0.16|7.2|0.5|textile|trousers|
620462|Women's trousers and shorts, of cotton|PCE|0.16|8.1|0.55|textile|trousers|
620463|Women's trousers and shorts, of synthetic fibres|PCE|0.16|6.9|0.45|textile|trousers|
620520|Men's shirts, of cotton|PCE|0.16|6.3|0.3|textile|shirts|
620530|Men's shirts, of man-made fibres|PCE|0.16|5.0|0.25|textile|shirts|
620640|Women's blouses and shirts, of man-made fibres|PCE|0.12|5.4|0.2|textile|shirts|
620193|Men's anoraks and wind-jackets, of man-made fibres|PCE|0.16|17.5|0.9|textile|jackets|
620293|Women's anoraks and wind-jackets, of man-made fibres|PCE|0.16|16.8|0.85|textile|jackets|
6201400010|Men's overcoats, of man-made fibres, padded|PCE|0.16|24.0|1.3|textile|jackets|
630260|Toilet and kitchen linen, of cotton terry|KGM|0.10|6.9|1.0|textile|linen|
630231|Bed linen, of man-made fibres|KGM|0.10|5.5|1.0|textile|linen|
630790|Made-up textile articles, other|KGM|0.08|7.0|1.0|textile|linen|
640399|Footwear, outer soles of rubber, uppers of leather, other|PR|0.30|21.0|1.1|textile|footwear|
640299|Footwear, outer soles and uppers of rubber or plastics, other|PR|0.15|6.5|0.8|plastic|footwear|
640411|Sports footwear, uppers of textile materials|PR|0.12|11.0|0.7|textile|footwear|
640419|Footwear, uppers of textile materials, other|PR|0.12|5.8|0.6|textile|footwear|
640610|Uppers and parts thereof|PR|0.04|2.2|0.3|textile|footwear|
690721|Ceramic tiles, water absorption <= 0.5 %|MTK|0.10|7.5|21.0|mineral|tiles|X
690722|Ceramic tiles, water absorption 0.5-10 %|MTK|0.10|5.9|19.0|mineral|tiles|X
680221|Marble, travertine, simply cut or sawn|KGM|0.05|0.8|1.0|mineral|tiles|
691110|Tableware and kitchenware of porcelain|KGM|0.12|3.8|1.0|mineral|tableware|
701349|Glassware for table or kitchen, other|KGM|0.10|3.3|1.0|mineral|tableware|
711319|Articles of jewellery, of precious metal|PCE|0.10|420.0|0.02|metal|jewellery|
711711|Cuff-links and studs of base metal|PCE|0.05|2.5|0.02|metal|jewellery|
711790|Imitation jewellery, other|PCE|0.05|1.6|0.03|metal|jewellery|
720851|Flat-rolled iron, hot-rolled, not in coils, > 10 mm|KGM|0.05|0.72|1.0|metal|steel|X
720852|Flat-rolled iron, hot-rolled, not in coils, 4.75-10 mm|KGM|0.05|0.70|1.0|metal|steel|X
721049|Flat-rolled iron, zinc-coated, other|KGM|0.05|0.95|1.0|metal|steel|X
721420|Bars and rods of iron, with deformations (rebar)|KGM|0.05|0.62|1.0|metal|steel|X
730890|Structures and parts of structures, of iron or steel|KGM|0.03|1.9|1.0|metal|steel|
731815|Threaded screws and bolts, of iron or steel|KGM|0.04|2.3|1.0|metal|fasteners|X
731816|Nuts, of iron or steel|KGM|0.04|2.1|1.0|metal|fasteners|X
731829|Non-threaded articles of iron or steel, other|KGM|0.02|2.6|1.0|metal|fasteners|
760410|Bars, rods and profiles of aluminium, not alloyed|KGM|0.06|3.1|1.0|metal|aluminium|X
760421|Hollow profiles of aluminium alloys|KGM|0.06|3.3|1.0|metal|aluminium|X
760820|Tubes and pipes of aluminium alloys|KGM|0.04|3.6|1.0|metal|aluminium|
761699|Articles of aluminium, other|KGM|0.03|4.5|1.0|metal|aluminium|
820551|Household hand tools|KGM|0.04|4.2|1.0|metal|tools|
846721|Electromechanical drills for working in the hand|PCE|0.02|28.0|2.1|metal|tools|
846729|Electromechanical hand tools, other|PCE|0.02|34.0|2.6|metal|tools|
840734|Spark-ignition piston engines, > 1000 cc|PCE|0.03|1800.0|150.0|metal|engines|
840991|Parts for spark-ignition engines|KGM|0.02|9.5|1.0|metal|engines|
841370|Centrifugal pumps, other|PCE|0.02|310.0|28.0|metal|machinery|
841830|Freezers of the chest type, <= 800 l|PCE|0.05|220.0|45.0|metal|appliances|
841821|Household refrigerators, compression-type|PCE|0.05|260.0|55.0|metal|appliances|
845011|Fully-automatic washing machines, <= 10 kg|PCE|0.05|240.0|65.0|metal|appliances|
850940|Food grinders, mixers and juice extractors|PCE|0.04|22.0|2.8|electronics|appliances|
851660|Ovens, cookers, hot plates, other|PCE|0.04|48.0|9.0|metal|appliances|
847989|Machines with individual functions, n.e.s.|PCE|0.00|2400.0|380.0|metal|machinery|
848180|Taps, cocks and valves, other|KGM|0.03|12.0|1.0|metal|machinery|
848210|Ball bearings|KGM|0.04|8.8|1.0|metal|machinery|
847130|Portable computers, <= 10 kg|PCE|0.00|520.0|2.1|electronics|computers|
847150|Processing units for computers|PCE|0.00|640.0|8.0|electronics|computers|
847330|Parts and accessories of computers|KGM|0.00|42.0|1.0|electronics|computers|
852352|Smart cards|PCE|0.00|1.2|0.006|electronics|computers|
851713|Smartphones|PCE|0.05|310.0|0.42|electronics|phones|
851762|Machines for reception and transmission of voice, images or data|PCE|0.00|85.0|0.9|electronics|phones|
851779|Parts of telephone sets and network equipment|KGM|0.00|55.0|1.0|electronics|phones|
8517130090|Smartphones, refurbished|PCE|0.05|140.0|0.42|electronics|phones|
851830|Headphones and earphones|PCE|0.06|14.0|0.25|electronics|audio|
851822|Multiple loudspeakers, mounted in the same enclosure|PCE|0.06|38.0|4.5|electronics|audio|
852872|Reception apparatus for television, colour|PCE|0.12|240.0|14.0|electronics|screens|
852852|Monitors capable of connecting to computers|PCE|0.05|150.0|5.5|electronics|screens|
852859|Monitors, other|PCE|0.05|95.0|4.8|electronics|screens|
852589|Television cameras, digital cameras and video recorders|PCE|0.08|180.0|0.7|electronics|cameras|
900211|Objective lenses for cameras and projectors|PCE|0.03|120.0|0.5|electronics|cameras|
850760|Lithium-ion accumulators|PCE|0.03|18.0|0.45|electronics|batteries|
850650|Lithium primary cells and batteries|PCE|0.03|1.3|0.03|electronics|batteries|
850440|Static converters (inverters, chargers)|PCE|0.02|26.0|0.6|electronics|solar|
854143|Photovoltaic cells assembled in modules or made up into panels|PCE|0.00|95.0|22.0|electronics|solar|X
854142|Photovoltaic cells not assembled in modules|PCE|0.00|0.6|0.01|electronics|solar|X
853950|Light-emitting diode (LED) lamps|PCE|0.06|1.9|0.08|electronics|lighting|
940540|Electric luminaires and lighting fittings, other|PCE|0.04|14.0|1.2|electronics|lighting|
940542|Luminaires designed for use solely with LED sources|PCE|0.04|16.0|1.3|electronics|lighting|
854442|Electric conductors, <= 1000 V, fitted with connectors|KGM|0.04|7.1|1.0|metal|cables|
854449|Electric conductors, <= 1000 V, other|KGM|0.04|4.6|1.0|metal|cables|
870323|Motor cars, spark-ignition, 1500-3000 cc|PCE|0.10|21000.0|1350.0|metal|cars|
870324|Motor cars, spark-ignition, > 3000 cc|PCE|0.15|46000.0|1900.0|metal|cars|
870380|Motor cars, electric motor only|PCE|0.00|33000.0|1800.0|metal|cars|
870899|Parts and accessories of motor vehicles, other|KGM|0.03|6.2|1.0|metal|cars|
870829|Parts and accessories of bodies of motor vehicles|KGM|0.03|5.8|1.0|metal|cars|
871120|Motorcycles, 50-250 cc|PCE|0.10|1100.0|115.0|metal|bikes|
871200|Bicycles, not motorised|PCE|0.10|95.0|14.0|metal|bikes|X
871160|Cycles with auxiliary electric motor|PCE|0.06|420.0|23.0|metal|bikes|X
871499|Parts and accessories of bicycles, other|KGM|0.04|7.5|1.0|metal|bikes|
880622|Unmanned aircraft, weight 250 g - 7 kg|PCE|0.10|420.0|1.4|electronics|drones|
950300|Tricycles, scooters, dolls and other toys|KGM|0.00|6.8|1.0|plastic|drones|
950490|Video game consoles and articles for games, other|PCE|0.04|160.0|3.2|electronics|drones|
910211|Wrist-watches, battery powered, mechanical display|PCE|0.15|38.0|0.12|metal|watches|
910212|Wrist-watches, battery powered, opto-electronic display|PCE|0.15|21.0|0.1|electronics|watches|
911390|Watch straps, bands and bracelets, other|PCE|0.05|2.9|0.03|textile|watches|
940360|Wooden furniture, other|PCE|0.05|110.0|28.0|organic|furniture|
940171|Upholstered seats with metal frames|PCE|0.05|95.0|17.0|metal|furniture|
940390|Parts of furniture|KGM|0.02|3.4|1.0|organic|furniture|
940421|Mattresses of cellular rubber or plastics|PCE|0.06|85.0|15.0|plastic|furniture|
950691|Articles and equipment for gymnastics or athletics|KGM|0.04|4.9|1.0|metal|sports|
950662|Inflatable balls|PCE|0.04|5.5|0.45|plastic|sports|
290110|Saturated acyclic hydrocarbons|KGM|0.02|0.9|1.0|liquid|chemicals|
291536|Dinoseb acetate and other acetic acid esters|KGM|0.03|2.2|1.0|liquid|chemicals|
382499|Chemical products and preparations, other|KGM|0.03|2.8|1.0|liquid|chemicals|
320890|Paints and varnishes based on synthetic polymers|KGM|0.05|3.7|1.0|liquid|chemicals|
271019|Medium oils and lubricating preparations|LTR|0.03|1.6|0.9|liquid|chemicals|
310210|Urea, fertiliser|KGM|0.00|0.42|1.0|mineral|chemicals|
252329|Portland cement, other|KGM|0.00|0.09|1.0|mineral|chemicals|
401519|Gloves of vulcanised rubber, other|PR|0.03|0.09|0.01|plastic|medical|
901890|Medical instruments and appliances, other|PCE|0.00|58.0|1.5|metal|medical|
6307909800|Face masks of textile materials|KGM|0.08|7.0|1.0|textile|medical|
961900|Sanitary towels, napkins and diapers|KGM|0.08|3.1|1.0|textile|medical|
"""

ORIGIN_PROFILES: dict[str, dict[str, float]] = {
    "food": {"US": 3, "AU": 3, "BR": 3, "NZ": 2, "AR": 2, "TH": 2, "VN": 2, "CN": 2, "EC": 1, "IN": 2, "CL": 1, "FR": 1, "NL": 1, "ES": 1},
    "seafood": {"VN": 4, "TH": 3, "IN": 3, "EC": 3, "ID": 2, "CN": 2, "CL": 1, "AR": 1},
    "drinks": {"FR": 4, "IT": 3, "GB": 3, "ES": 2, "CL": 2, "AU": 1, "US": 2, "DE": 1, "MX": 1},
    "tobacco": {"ID": 2, "CN": 2, "TR": 2, "BR": 1, "US": 1, "DE": 1, "GB": 1, "PL": 1},
    "textile": {"CN": 6, "BD": 4, "VN": 3, "IN": 3, "TR": 2, "PK": 2, "KH": 2, "IT": 1, "LK": 1},
    "electronics": {"CN": 8, "VN": 3, "KR": 2, "TW": 2, "MY": 1, "JP": 2, "TH": 1, "US": 1},
    "metal": {"CN": 6, "KR": 2, "JP": 2, "IN": 2, "TR": 2, "DE": 2, "VN": 1, "TW": 1, "US": 1},
    "vehicles": {"DE": 3, "JP": 4, "KR": 3, "US": 2, "MX": 1, "CN": 3, "GB": 1, "IT": 1},
    "chemicals": {"DE": 3, "US": 3, "CN": 4, "NL": 2, "JP": 1, "KR": 1, "IN": 2, "SA": 2},
    "consumer": {"CN": 8, "VN": 2, "IN": 1, "TR": 1, "IT": 1, "FR": 1, "MX": 1, "TH": 1},
}
"""Origin mix by sourcing profile (relative weights); each goods group maps to one profile."""

_GROUP_PROFILE: dict[str, str] = {
    "beef": "food", "poultry": "food", "shrimp": "seafood", "fish": "seafood", "cheese": "food",
    "honey": "food", "garlic": "food", "fruit": "food", "coffee": "food", "tea": "food",
    "rice": "food", "sugar": "food", "oil": "food", "pharma": "chemicals", "drinks": "drinks",
    "tobacco": "tobacco", "vape": "electronics", "cosmetics": "consumer", "plastics": "chemicals",
    "tyres": "metal", "bags": "textile", "wood": "consumer", "paper": "consumer", "yarn": "textile",
    "fabric": "textile", "tshirts": "textile", "knitwear": "textile", "trousers": "textile",
    "shirts": "textile", "jackets": "textile", "linen": "textile", "footwear": "textile",
    "tiles": "metal", "tableware": "consumer", "jewellery": "consumer", "steel": "metal",
    "fasteners": "metal", "aluminium": "metal", "tools": "metal", "engines": "vehicles",
    "machinery": "metal", "appliances": "electronics", "computers": "electronics",
    "phones": "electronics", "audio": "electronics", "screens": "electronics",
    "cameras": "electronics", "batteries": "electronics", "solar": "electronics",
    "lighting": "electronics", "cables": "metal", "cars": "vehicles", "bikes": "vehicles",
    "drones": "electronics", "watches": "consumer", "furniture": "consumer", "sports": "consumer",
    "chemicals": "chemicals", "medical": "chemicals",
}

COUNTRIES: tuple[str, ...] = (
    "CN", "VN", "IN", "BD", "TH", "MY", "ID", "KR", "JP", "TW", "US", "DE", "IT", "FR", "TR",
    "MX", "BR", "CL", "AU", "PK", "KH", "LK", "NL", "GB", "ES", "PL", "EC", "AR", "NZ", "SA",
    "AE", "SG", "HK",
)
"""ISO 3166 alpha-2 codes of trading partners (origins and dispatch countries)."""

PRICE_LEVEL: dict[str, float] = {
    "CN": 0.78, "VN": 0.82, "IN": 0.8, "BD": 0.72, "TH": 0.9, "MY": 0.95, "ID": 0.85, "KR": 1.1,
    "JP": 1.25, "TW": 1.05, "US": 1.2, "DE": 1.3, "IT": 1.3, "FR": 1.3, "TR": 0.9, "MX": 0.95,
    "BR": 0.9, "CL": 0.95, "AU": 1.15, "PK": 0.75, "KH": 0.75, "LK": 0.8, "NL": 1.25, "GB": 1.25,
    "ES": 1.15, "PL": 1.0, "EC": 0.85, "AR": 0.9, "NZ": 1.1, "SA": 1.0, "AE": 1.1, "SG": 1.15,
    "HK": 1.1,
}
"""Relative price level of goods from each origin (multiplies a good's base unit price)."""

HUBS: tuple[str, ...] = ("AE", "SG", "MY", "HK", "NL")
"""Transshipment hubs: goods are often dispatched from here rather than from their origin."""

AD_ORIGINS: tuple[str, ...] = ("CN",)
"""Origins whose goods flagged anti-dumping pay :data:`AD_DUTY` on top of the tariff."""

AD_DUTY = 0.45
"""Anti-dumping duty rate applied to flagged goods from :data:`AD_ORIGINS`."""

PREFERENTIAL: tuple[str, ...] = ("VN", "MY", "TH", "ID", "KH", "AU", "CL", "MX", "NZ", "SG")
"""Origins with a free-trade agreement: their goods pay :data:`PREFERENCE_FACTOR` of the tariff."""

PREFERENCE_FACTOR = 0.4

ORIGIN_LAUNDERING: tuple[str, ...] = ("VN", "MY", "TH", "ID", "KH")
"""Preferential origins that origin fraud claims instead of the true (anti-dumped) one."""

TRANSPORT_MODES: tuple[str, ...] = ("SEA", "AIR", "ROAD", "RAIL", "POST")
"""Transport modes in the order of the Avro enum."""

LEAD_HOURS: dict[str, tuple[float, float]] = {
    "SEA": (30.0, 240.0), "AIR": (3.0, 30.0), "ROAD": (2.0, 20.0), "RAIL": (24.0, 120.0), "POST": (12.0, 72.0),
}
"""Honest filing lead time before expected arrival, hours (min, max) by transport mode."""

LOT_FACTOR: dict[str, float] = {"SEA": 1.0, "AIR": 0.15, "ROAD": 0.45, "RAIL": 0.8, "POST": 0.004}
"""Consignment size by mode, relative to a sea shipment."""


@dataclass(frozen=True)
class Office:
    """A customs office of the importing country ZK."""

    office_id: str
    name: str
    mode: str
    size: float
    """Relative share of national declaration traffic."""
    inspection_rate: float
    """Daily inspection capacity as a share of the office's declarations."""
    scanners: tuple[str, ...]
    """Scanner models installed (may repeat: two units of one model)."""


OFFICES: tuple[Office, ...] = (
    Office("ZKNPT", "Northport container terminal", "SEA", 14.0, 0.09, ("HCV-M6D", "MB1215HS", "MB1215HS")),
    Office("ZKEBY", "Eastbay seaport", "SEA", 11.0, 0.10, ("EAGLE-P60", "HCV-M6D")),
    Office("ZKSHB", "Southharbour seaport", "SEA", 8.0, 0.11, ("MB1215HS", "SILHOUETTE-R")),
    Office("ZKWHV", "Westhaven seaport", "SEA", 4.0, 0.12, ("EAGLE-P60",)),
    Office("ZKRVP", "Riverport inland terminal", "SEA", 2.0, 0.12, ("VACIS-M6500",)),
    Office("ZKFJD", "Fjordby ferry port", "SEA", 1.5, 0.12, ("VACIS-M6500",)),
    Office("ZKCAP", "Capital international airport cargo", "AIR", 10.0, 0.08, ()),
    Office("ZKNAP", "Northport airport cargo", "AIR", 4.0, 0.09, ()),
    Office("ZKSAP", "Southharbour airport cargo", "AIR", 3.0, 0.10, ()),
    Office("ZKCGO", "Central freight airport", "AIR", 5.0, 0.09, ()),
    Office("ZKMLC", "International mail centre", "POST", 9.0, 0.06, ()),
    Office("ZKEXP", "Express courier hub", "POST", 6.0, 0.07, ()),
    Office("ZKBRA", "Eastern land border A", "ROAD", 5.0, 0.12, ("EAGLE-P60", "SILHOUETTE-R")),
    Office("ZKBRB", "Eastern land border B", "ROAD", 3.0, 0.12, ("VACIS-M6500",)),
    Office("ZKBRC", "Southern land border", "ROAD", 4.0, 0.11, ("MB1215HS",)),
    Office("ZKBRD", "Western land border", "ROAD", 2.5, 0.12, ("EAGLE-P60",)),
    Office("ZKBRE", "Mountain pass border", "ROAD", 1.0, 0.12, ("VACIS-M6500",)),
    Office("ZKBRF", "Northern land border", "ROAD", 1.5, 0.10, ("SILHOUETTE-R",)),
    Office("ZKRLN", "Northern rail freight terminal", "RAIL", 2.5, 0.11, ("HCV-M6D",)),
    Office("ZKRLS", "Southern rail freight terminal", "RAIL", 1.5, 0.11, ("MB1215HS",)),
)
"""The ~20 offices: big seaports, airports, postal hubs, land borders and rail terminals."""

SCANNER_ENERGY: dict[str, str] = {
    "HCV-M6D": "DUAL", "MB1215HS": "DUAL", "SILHOUETTE-R": "DUAL", "EAGLE-P60": "SINGLE", "VACIS-M6500": "SINGLE",
}
"""Energy mode of each scanner model."""

CONTAINER_OWNERS: tuple[str, ...] = (
    "MSC", "MAE", "CMA", "HLX", "COS", "EGH", "ONE", "YML", "HDM", "ZIM", "OOL", "TGH", "TCN", "TEM",
    "GES", "CAI", "TRH", "FSC", "SEG", "BMO", "APZ", "PON", "KKF", "NYK", "MOL", "WHL", "SIT", "TLL",
    "DFS", "CRS", "UET", "IPX", "GLD", "FCI", "CXD", "BSI", "EMC", "HMM", "CSN", "XIN",
)
"""Owner codes (3 letters; the ISO 6346 category letter ``U`` follows)."""

VESSELS: tuple[str, ...] = (
    "MSC AURORA", "MAERSK ELBA", "CMA CGM RIVOLI", "EVER GLORY", "ONE HARMONY", "COSCO PRIDE",
    "HMM OSLO", "YM WELLNESS", "ZIM SHANGHAI", "HAPAG ESSEN", "NORTHERN JADE", "SEASPAN BEAUTY",
    "OOCL POLAND", "WAN HAI 316", "KOTA LAHIR", "X-PRESS ANGLESEY",
)
"""Vessel names used in SEA conveyance references (vessel + voyage)."""

AIRLINES: tuple[str, ...] = ("ZK", "LH", "EK", "SQ", "CX", "QR", "TK", "NH", "CV", "5X")
"""IATA carrier codes used in AIR conveyance references (flight numbers)."""

CONCEALMENTS: tuple[str, ...] = ("dense_package", "organic_package", "in_wall", "in_floor")
"""How undeclared goods are hidden in a container (X-ray renderer hint)."""

CONTRABAND: tuple[tuple[str, str], ...] = (
    ("240220", "organic_package"), ("240220", "in_wall"), ("240319", "organic_package"),
    ("851713", "dense_package"), ("220830", "in_floor"), ("330300", "dense_package"),
    ("910211", "dense_package"), ("240412", "in_wall"),
)
"""Goods smuggled by concealment, with the way they are hidden."""


@dataclass(frozen=True)
class Goods:
    """The goods catalogue, columnar: index ``g`` addresses every array."""

    hs_code: tuple[str, ...]
    description: tuple[str, ...]
    unit: np.ndarray
    """Index into :data:`UNITS`."""
    duty: np.ndarray
    base_price: np.ndarray
    """Unit price in USD at price level 1.0."""
    unit_kg: np.ndarray
    material: np.ndarray
    """Index into :data:`MATERIALS`."""
    group: np.ndarray
    """Look-alike group index."""
    profile: np.ndarray
    """Sourcing profile index into ``list(ORIGIN_PROFILES)``."""
    anti_dumping: np.ndarray
    """True where goods from :data:`AD_ORIGINS` pay :data:`AD_DUTY`."""
    lookalike_ptr: np.ndarray
    lookalike: np.ndarray
    """CSR lists: the cheaper-duty look-alikes of good g are ``lookalike[ptr[g]:ptr[g+1]]``."""

    def __len__(self) -> int:
        return len(self.hs_code)

    def index(self, hs_code: str) -> int:
        """Index of the first good with this HS code."""
        return self.hs_code.index(hs_code)


def _parse_goods(table: str) -> Goods:
    rows = [line.split("|") for line in table.strip().splitlines()]
    groups = sorted({row[7] for row in rows})
    profiles = list(ORIGIN_PROFILES)
    duty = np.array([float(r[3]) for r in rows])
    group = np.array([groups.index(r[7]) for r in rows])
    ptr, members = [0], []
    for g in range(len(rows)):
        cheaper = np.flatnonzero((group == group[g]) & (duty < duty[g] - 0.015))
        members.extend(cheaper.tolist())
        ptr.append(len(members))
    return Goods(
        hs_code=tuple(r[0] for r in rows),
        description=tuple(r[1] for r in rows),
        unit=np.array([UNITS.index(r[2]) for r in rows]),
        duty=duty,
        base_price=np.array([float(r[4]) for r in rows]),
        unit_kg=np.array([float(r[5]) for r in rows]),
        material=np.array([MATERIALS.index(r[6]) for r in rows]),
        group=group,
        profile=np.array([profiles.index(_GROUP_PROFILE[r[7]]) for r in rows]),
        anti_dumping=np.array([r[8] == "X" for r in rows]),
        lookalike_ptr=np.array(ptr),
        lookalike=np.array(members, dtype=np.int64),
    )


GOODS: Goods = _parse_goods(_GOODS_TABLE)
"""The goods catalogue (~200 tariff lines)."""

COUNTRY_INDEX: dict[str, int] = {c: i for i, c in enumerate(COUNTRIES)}


def origin_weights() -> np.ndarray:
    """Matrix [profile, country] of origin probabilities for each sourcing profile."""
    weights = np.zeros((len(ORIGIN_PROFILES), len(COUNTRIES)))
    for p, mix in enumerate(ORIGIN_PROFILES.values()):
        for country, w in mix.items():
            weights[p, COUNTRY_INDEX[country]] = w
    return weights / weights.sum(axis=1, keepdims=True)


def effective_duty(goods_idx: np.ndarray, origin_idx: np.ndarray) -> np.ndarray:
    """Duty rate actually owed on goods from an origin: tariff, FTA preference, anti-dumping."""
    duty = GOODS.duty[goods_idx].copy()
    pref = np.isin(origin_idx, [COUNTRY_INDEX[c] for c in PREFERENTIAL])
    duty[pref] *= PREFERENCE_FACTOR
    dumped = GOODS.anti_dumping[goods_idx] & np.isin(origin_idx, [COUNTRY_INDEX[c] for c in AD_ORIGINS])
    duty[dumped] += AD_DUTY
    return duty


_HS_INDEX: dict[str, int] = {hs: g for g, hs in enumerate(GOODS.hs_code)}


def tariff_rate(hs_code: str, origin: str) -> float:
    """The public tariff of ZK: duty rate owed on ``hs_code`` goods from ``origin`` (0.0 if unknown).

    Includes free-trade preferences and anti-dumping duties, so it is the incentive a
    trader has to misdeclare goods or origin (a feature a customs office may use).

    >>> tariff_rate("640399", "CN"), tariff_rate("640399", "VN"), tariff_rate("720851", "CN")
    (0.3, 0.12, 0.5)
    """
    g, o = _HS_INDEX.get(hs_code), COUNTRY_INDEX.get(origin)
    if g is None or o is None:
        return 0.0
    return round(float(effective_duty(np.array([g]), np.array([o]))[0]), 6)
